-- What each event changed in its object (the readable diff from the version before it, as a
-- JSON array), written with the event so that an object's history is read, not recomputed on
-- every request. It is derived from `object` and the previous event's `object` and never
-- changes afterwards. NULL for events written before this column existed: readers compute
-- those.
ALTER TABLE events ADD COLUMN changes TEXT;
