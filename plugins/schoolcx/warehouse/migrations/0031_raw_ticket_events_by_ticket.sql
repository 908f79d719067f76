-- Zendesk audits by ticket (issue 19). stg_zendesk__ticket_child_events is a view over
-- raw.zendesk_ticket_events, no longer a table: int_zendesk__ticket_activity reads every audit
-- of each ticket changed since its watermark straight from raw, one lookup of this index per
-- ticket. The expression is the view's ticket_id (`payload ->> 'ticket_id'`, on the stored
-- column) exactly, or the planner does not use the index. Raw tables are created only by
-- migrations (0002, through ops.create_raw_table), so the table exists here on a fresh
-- warehouse; the check keeps this migration harmless where it does not.
-- One build on an existing warehouse (a year of M: a few minutes, a share lock that holds the
-- raw writer back meanwhile); then the writer maintains it.
do $$
begin
    if to_regclass('raw.zendesk_ticket_events') is not null then
        create index if not exists zendesk_ticket_events_ticket_idx
            on raw.zendesk_ticket_events (source_instance, (payload ->> 'ticket_id'));
    end if;
end;
$$;
