-- title: Language scores of the top languages
-- chart: histogram
-- needs: docs.language, docs.language_score
WITH top AS (SELECT language FROM measures GROUP BY language ORDER BY count(*) DESC LIMIT 4)
SELECT run || ' ' || language AS run, floor(language_score * 20) / 20 AS bin_lo,
       floor(language_score * 20) / 20 + 0.05 AS bin_hi, count(*) AS documents
FROM measures WHERE language IN (SELECT language FROM top) AND language_score IS NOT NULL
GROUP BY ALL
ORDER BY run, bin_lo
