-- The writes of core/v1 Events in log order: the event TTL controller walks them oldest first
-- (the log's order is the order of last writes) to find the Events not written for the TTL,
-- without holding anything per Event. Partial: the log's other rows pay nothing for it.
CREATE INDEX events_of_core_events ON events (seq) WHERE kind = 'Event';
