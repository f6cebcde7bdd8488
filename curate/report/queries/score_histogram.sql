-- title: {label}
-- chart: histogram
-- needs: docs.{label}
-- note: 40 bins between the 0.5% and 99.5% quantiles (values beyond them counted in the end bins)
SELECT run, bin_lo, bin_lo + {width} AS bin_hi, documents
FROM (SELECT run,
             {low} + floor((least(greatest({column}::DOUBLE, {low}), {top}) - {low}) / {width}) * {width} AS bin_lo,
             count(*) AS documents
      FROM measures
      WHERE {column} IS NOT NULL AND isfinite({column}::DOUBLE)
      GROUP BY ALL)
ORDER BY run, bin_lo
