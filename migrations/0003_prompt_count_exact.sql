-- Whether Tollgate's prompt count (prompt_tokens_estimated) followed DeepSeek V4's layout
-- exactly (true) or approximated part of the prompt (false: images, unknown roles, extra tool
-- fields; docs/TOKENIZER.md). NULL when nothing was counted, and for rows written before this
-- column. The count-accuracy report keeps the three apart, so an approximation's error never
-- hides a template drift.
ALTER TABLE usage_events ADD COLUMN prompt_count_exact boolean;
