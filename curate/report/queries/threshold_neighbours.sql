-- title: Documents either side of {label} = {threshold}
-- chart: documents
-- needs: removed.{label}
SELECT run, side, score, id FROM (
    SELECT run, CASE WHEN {column} {op} {threshold} THEN 'kept side' ELSE 'removed side' END AS side,
           {column} AS score, id,
           row_number() OVER (PARTITION BY run, {column} {op} {threshold} ORDER BY abs({column} - {threshold}), hash(id)) AS n
    FROM (SELECT run, id, {column} FROM measures UNION ALL SELECT run, id, {column} FROM removed_measures)
    WHERE {column} IS NOT NULL)
WHERE n <= 3
ORDER BY run, side, abs(score - {threshold})
