-- title: The largest duplicate clusters
-- chart: documents
-- needs: docs.dup_cluster_size
-- note: each cluster's kept document, and up to two of the duplicates removed for it when the run kept its removed documents
WITH top AS (SELECT run, id, dup_cluster_size FROM measures WHERE dup_cluster_size > 1
             ORDER BY dup_cluster_size DESC, hash(id) LIMIT 8)
SELECT run, 'kept' AS role, dup_cluster_size AS cluster_size, id AS cluster, id FROM top
{removed_twins}
ORDER BY cluster_size DESC, cluster, role
