-- title: Removed documents, by reason
-- chart: documents
-- needs: removed
-- note: a few documents per reason (the same ones every time), text escaped and cut to {chars} characters
SELECT run, removed_by || ': ' || removed_reason AS reason, id
FROM removed
QUALIFY row_number() OVER (PARTITION BY run, removed_by, removed_reason ORDER BY hash(id)) <= 3
ORDER BY run, reason, hash(id)
