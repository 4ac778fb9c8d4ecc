"""The pages, one module per family: send, inbox (inbox, conversation, reply, live polls),
messages (list, export, detail), auto_reply, webhook. Each view is thin: it reads through
messaging/selectors and writes through messaging/services."""
