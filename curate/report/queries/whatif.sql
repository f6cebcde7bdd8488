-- title: What if {label} {op} threshold
-- needs: docs.{label}
-- note: the share of documents and of tokens of run {run} kept at each threshold (documents without a value are not kept)
SELECT t.threshold,
       count(*) FILTER (WHERE m.{column} {op} t.threshold) / count(*) AS docs_kept,
       sum(m.tokens) FILTER (WHERE m.{column} {op} t.threshold) / sum(m.tokens) AS tokens_kept
FROM (SELECT {column}, tokens FROM measures WHERE run = {run}) m,
     (SELECT unnest({thresholds}::DOUBLE[]) AS threshold) t
GROUP BY ALL
ORDER BY t.threshold
