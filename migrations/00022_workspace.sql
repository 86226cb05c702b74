-- The context lead's workspace (issue 14): search contexts by name (pg_trgm,
-- which ships with PostgreSQL's contrib modules and is a trusted extension),
-- what an intervention achieved (outcome and notes), and the linking team's
-- own label on each link, so its practitioners know which young person a
-- link is before they remove it. The label is the team's alone: no route
-- shows it to anyone else, and no output (summaries, chronology, panel pack,
-- audit, exports) carries it.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Name search ("Market Street") and near-duplicate names before a record is
-- opened ("Takeaway, E9 6EE" next to "Takeaway, E9 6EF").
CREATE INDEX contexts_display_trgm ON contexts USING gin (lower(display_name) gin_trgm_ops);

ALTER TABLE context_interventions
    ADD COLUMN outcome text NOT NULL DEFAULT '' CHECK (length(outcome) <= 4000),
    ADD COLUMN notes   text NOT NULL DEFAULT '' CHECK (length(notes) <= 4000);

ALTER TABLE context_links
    ADD COLUMN label text NOT NULL DEFAULT '' CHECK (length(label) <= 100);

-- +goose Down
ALTER TABLE context_links DROP COLUMN label;
ALTER TABLE context_interventions DROP COLUMN notes, DROP COLUMN outcome;
DROP INDEX contexts_display_trgm;
