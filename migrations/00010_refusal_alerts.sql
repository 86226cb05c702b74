-- Daily-cap refusals in volume are an admin alert of their own, like
-- screening refusals (insider review 2, F7): each 429 was an audit row only.

-- +goose Up
ALTER TABLE admin_alerts DROP CONSTRAINT admin_alerts_kind_check;
ALTER TABLE admin_alerts ADD CONSTRAINT admin_alerts_kind_check
    CHECK (kind IN ('subject_burst', 'quick_archive', 'screening_refusals', 'subject_limit_refusals'));

-- +goose Down
DELETE FROM admin_alerts WHERE kind = 'subject_limit_refusals';
ALTER TABLE admin_alerts DROP CONSTRAINT admin_alerts_kind_check;
ALTER TABLE admin_alerts ADD CONSTRAINT admin_alerts_kind_check
    CHECK (kind IN ('subject_burst', 'quick_archive', 'screening_refusals'));
