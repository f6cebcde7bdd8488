-- title: Top domains
-- chart: bars label=domain value=documents
-- needs: docs.url
-- note: documents and tokens kept per domain; dropped and the drop rate when the run kept its removed documents (--removed)
WITH pages AS (
    SELECT l.run, l.kept, l.tokens, lower(regexp_extract(p.url, '^[A-Za-z][A-Za-z0-9+.-]*://([^/:?#]+)', 1)) AS domain
    FROM lengths l JOIN (SELECT run, id, url FROM docs {removed_urls}) p ON p.run = l.run AND p.id = l.id
)
SELECT run, coalesce(nullif(domain, ''), '(no url)') AS domain,
       count(*) FILTER (WHERE kept) AS documents,
       round(sum(tokens) FILTER (WHERE kept)) AS tokens,
       count(*) FILTER (WHERE NOT kept) AS dropped,
       round(100.0 * count(*) FILTER (WHERE NOT kept) / count(*), 1) AS drop_pct
FROM pages
GROUP BY ALL
ORDER BY run, documents DESC, dropped DESC
LIMIT 40
