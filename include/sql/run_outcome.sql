-- The latest attempt of each movie in one run.
SELECT DISTINCT ON (movie_id) movie_id, status, error_class, error_message
FROM hls_conversions
WHERE run_id = %(run_id)s AND dag_id = %(dag_id)s
ORDER BY movie_id, attempt DESC;
