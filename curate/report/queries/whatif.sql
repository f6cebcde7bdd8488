-- title: What if {label} {op} threshold
-- needs: docs.{label}
-- note: the share of documents and of tokens kept at each threshold (documents without a value are not kept)
SELECT d.run, t.threshold,
       count(*) FILTER (WHERE d.{column} {op} t.threshold) / count(*) AS docs_kept,
       sum(l.tokens) FILTER (WHERE d.{column} {op} t.threshold) / sum(l.tokens) AS tokens_kept
FROM docs d JOIN lengths l ON l.run = d.run AND l.id = d.id AND l.kept,
     (SELECT unnest({thresholds}::DOUBLE[]) AS threshold) t
GROUP BY ALL
ORDER BY d.run, t.threshold
