-- title: Why documents were dropped or skipped
-- chart: bars label=reason value=documents
-- note: every reason of every block, as counted by the run (funnel.json); "skipped": records the reader did not turn into documents
SELECT run, stage, kind, stage || ': ' || reason AS reason, documents
FROM reasons
ORDER BY run, position, documents DESC
