-- Landing tables. payload keeps the vendor record whole (unknown fields included) so that later
-- drill-downs (groups, organisations, brands, custom fields, channel, locale) never need a
-- re-extract; person_hash is the keyed hash of the record's person address, computed at load.
select ops.create_raw_table('zendesk_tickets');
select ops.create_raw_table('zendesk_ticket_events');
select ops.create_raw_table('zendesk_users');
select ops.create_raw_table('zendesk_satisfaction_ratings');
select ops.create_raw_table('zendesk_groups');
select ops.create_raw_table('zendesk_organizations');
select ops.create_raw_table('freshdesk_tickets');
select ops.create_raw_table('freshdesk_conversations');
select ops.create_raw_table('freshdesk_contacts');
select ops.create_raw_table('freshdesk_satisfaction_ratings');
select ops.create_raw_table('freshdesk_surveys');
select ops.create_raw_table('imap_messages');
select ops.create_raw_table('qualtrics_responses');
select ops.create_raw_table('surveymonkey_responses');
select ops.create_raw_table('file_drop_rows');
