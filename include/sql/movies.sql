-- The application's catalog table, as the application creates it. The pipeline reads and updates
-- video_url but adds no column here; the demo and the tests create the table from this file.
CREATE TABLE IF NOT EXISTS movies (
    id          bigint PRIMARY KEY,
    title       text NOT NULL,
    slug        text NOT NULL UNIQUE,
    description text,
    duration    integer,            -- minutes
    category_id bigint,
    poster_url  text,
    banner_url  text,
    trailer_url text,
    video_url   text,
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
