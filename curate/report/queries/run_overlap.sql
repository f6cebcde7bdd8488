-- title: Documents shared between runs
-- chart: table
-- note: by document id: how many of each run's documents the other run kept too
SELECT a.run, b.run AS other, count(*) FILTER (WHERE b.id IS NOT NULL) AS also_in_other,
       count(*) FILTER (WHERE b.id IS NULL) AS only_in_run
FROM (SELECT DISTINCT run, id FROM measures) a
JOIN (SELECT DISTINCT run FROM measures) o ON o.run <> a.run
LEFT JOIN (SELECT DISTINCT run, id FROM measures) b ON b.run = o.run AND b.id = a.id
GROUP BY a.run, other
ORDER BY a.run, other
