-- title: Documents at quantiles of {label}
-- chart: documents
-- needs: docs.{label}
WITH q AS (
    SELECT run, unnest([0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]) AS quantile,
           unnest(quantile_disc({column}, [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99])) AS value
    FROM measures WHERE {column} IS NOT NULL GROUP BY run
)
SELECT q.run, q.quantile, m.{column} AS score, m.id
FROM q JOIN measures m ON m.run = q.run AND m.{column} = q.value
QUALIFY row_number() OVER (PARTITION BY q.run, q.quantile ORDER BY hash(m.id)) = 1
ORDER BY q.run, q.quantile
