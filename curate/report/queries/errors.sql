-- title: Files that failed
-- chart: table
-- needs: errors
SELECT run, file, error FROM errors ORDER BY run, file
