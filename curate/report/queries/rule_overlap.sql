-- title: Which rule sets fire together
-- chart: matrix
-- note: documents failing both rule sets (the diagonal: failing that rule set), from the <name>_failed columns; in a run that filters, a document removed by one rule set never reaches the next, so run with annotate_only=true to see real overlap
SELECT run, a.rule AS rule_a, b.rule AS rule_b, count(*) AS documents
FROM ({failures}) a JOIN ({failures}) b USING (run, id)
GROUP BY ALL
ORDER BY run, rule_a, rule_b
