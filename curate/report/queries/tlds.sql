-- title: Top-level domains
-- chart: bars label=tld value=documents
-- needs: docs.url
SELECT run, coalesce(nullif(regexp_extract(domain, '\.([a-z0-9-]+)$', 1), ''), '(none)') AS tld,
       count(*) AS documents, round(sum(tokens)) AS tokens
FROM measures
GROUP BY ALL
ORDER BY run, documents DESC
LIMIT 30
