-- title: The largest duplicate clusters
-- chart: documents
-- needs: docs.dup_cluster_size
SELECT run, id, url, dup_cluster_size AS cluster_size, left(text, {chars}) AS text
FROM docs
WHERE dup_cluster_size > 1
ORDER BY dup_cluster_size DESC, hash(id)
LIMIT 10
