"""Reads: what each page shows, narrowed to what the person may see. Nothing here writes or
calls the carrier.

- visibility.py: the per-user DID rule (`did_limit`) and everything it narrows; sender DIDs.
- conversations.py: the inbox list, a thread, its live changes, the unread badge.
- messages.py: message search (Messages list, export), recent sends, a message's events.
- paging.py: poll cursors and the one keyset-paging helper.
"""
