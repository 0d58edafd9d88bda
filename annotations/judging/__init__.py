"""Judging: what an annotator is shown and what they answer.

- `design`: the balanced, unpredictable left/right design of each annotator's pairs, decided on the server.
- `assignment`: which pair an annotator meets next (`next_item`), with leases and active selection.
- `judgments`: submitting a judgment (`submit`), its append-only versions, and the judgments frame.
- `adjudication`: a researcher's blind decision on a disputed item, stored apart from the judgments.
"""
