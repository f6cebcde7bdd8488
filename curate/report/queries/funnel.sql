-- title: Funnel
-- chart: bars label=stage value=docs_out
-- note: per block, in pipeline order: documents, bytes and tokens in and out, CPU seconds, and CPU seconds per million documents in
SELECT run, stage, docs_in, docs_out,
       round(100.0 * docs_out / nullif(docs_in, 0), 1) AS kept_pct,
       bytes_in, bytes_out,
       round(tokens(bytes_in)) AS tokens_in, round(tokens(bytes_out)) AS tokens_out,
       round(cpu_s, 2) AS cpu_s,
       round(cpu_s * 1e6 / nullif(docs_in, 0), 1) AS cpu_s_per_million_docs
FROM funnel
ORDER BY run, position
