-- title: Duplicate clusters: sizes
-- chart: bars label=cluster_size value=clusters
-- needs: docs.dup_cluster_size
-- note: a cluster is a kept document and the exact and near duplicates removed for it
SELECT run, CAST(dup_cluster_size AS VARCHAR) AS cluster_size, count(*) AS clusters,
       sum(dup_cluster_size - 1) AS duplicates_removed
FROM measures
WHERE dup_cluster_size > 1
GROUP BY ALL
ORDER BY run, min(dup_cluster_size)
LIMIT 30
