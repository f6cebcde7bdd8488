-- title: Drop rate per rule
-- chart: bars label=rule value=drop_pct
-- note: the share of the documents reaching a block that the rule removed
SELECT r.run, r.stage || ': ' || r.reason AS rule, r.documents AS dropped, f.docs_in AS reached,
       round(100.0 * r.documents / nullif(f.docs_in, 0), 2) AS drop_pct
FROM reasons r JOIN funnel f USING (run, position)
WHERE r.kind = 'dropped'
ORDER BY r.run, r.position, r.documents DESC
