-- title: Languages
-- chart: bars label=language value=documents
-- needs: docs.language
SELECT run, coalesce(language, '(none)') AS language, count(*) AS documents,
       round(sum(tokens)) AS tokens, round(avg(language_score), 3) AS mean_score
FROM measures
GROUP BY ALL
ORDER BY run, documents DESC
LIMIT 60
