-- title: Length of documents: {measure}
-- chart: histogram log
-- needs: lengths
-- note: kept documents (and removed ones, when the run kept them), binned on a log scale
SELECT run || CASE WHEN kept THEN '' ELSE ' (removed)' END AS run,
       floor(log10(greatest({measure}, 1)) * 10) / 10 AS bin_lo,
       floor(log10(greatest({measure}, 1)) * 10) / 10 + 0.1 AS bin_hi,
       count(*) AS documents
FROM lengths
GROUP BY ALL
ORDER BY run, bin_lo
