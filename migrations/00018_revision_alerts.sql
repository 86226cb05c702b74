-- Back-dated records at one place watched across releases raise an admin
-- alert of their own (insider review 2, F1): the probe that the daily cap and
-- the 24-hour burst alert do not see, because it adds a few young people to an
-- already released month before each release.

-- +goose Up
ALTER TABLE admin_alerts DROP CONSTRAINT admin_alerts_kind_check;
ALTER TABLE admin_alerts ADD CONSTRAINT admin_alerts_kind_check
    CHECK (kind IN ('subject_burst', 'quick_archive', 'screening_refusals', 'subject_limit_refusals', 'revision_burst'));

-- +goose Down
DELETE FROM admin_alerts WHERE kind = 'revision_burst';
ALTER TABLE admin_alerts DROP CONSTRAINT admin_alerts_kind_check;
ALTER TABLE admin_alerts ADD CONSTRAINT admin_alerts_kind_check
    CHECK (kind IN ('subject_burst', 'quick_archive', 'screening_refusals', 'subject_limit_refusals'));
