-- title: Top-level domains
-- chart: bars label=tld value=documents
-- needs: docs.url
SELECT run, coalesce(nullif(regexp_extract(lower(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)', 1)),
                                          '\.([a-z0-9-]+)$', 1), ''), '(none)') AS tld,
       count(*) AS documents
FROM docs
GROUP BY ALL
ORDER BY run, documents DESC
LIMIT 30
