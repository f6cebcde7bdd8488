-- title: Languages
-- chart: bars label=language value=documents
-- needs: docs.language
SELECT d.run, coalesce(d.language, '(none)') AS language, count(*) AS documents,
       round(sum(l.tokens)) AS tokens, round(avg(d.language_score), 3) AS mean_score
FROM docs d JOIN lengths l ON l.run = d.run AND l.id = d.id AND l.kept
GROUP BY ALL
ORDER BY d.run, documents DESC
LIMIT 60
