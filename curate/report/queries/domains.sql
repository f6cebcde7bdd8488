-- title: Top domains
-- chart: bars label=domain value=documents
-- needs: docs.url
-- note: documents and tokens kept per domain; dropped and the drop rate when the run kept its removed documents (--removed)
WITH pages AS (SELECT run, true AS kept, tokens, domain FROM measures {removed_pages})
SELECT run, coalesce(nullif(domain, ''), '(no url)') AS domain,
       count(*) FILTER (WHERE kept) AS documents,
       round(sum(tokens) FILTER (WHERE kept)) AS tokens,
       count(*) FILTER (WHERE NOT kept) AS dropped,
       round(100.0 * count(*) FILTER (WHERE NOT kept) / count(*), 1) AS drop_pct
FROM pages
GROUP BY ALL
ORDER BY run, documents DESC, dropped DESC
LIMIT 40
