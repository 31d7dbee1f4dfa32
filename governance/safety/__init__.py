"""Safety configuration and moderation: presets, blocklist matching, classifier backends and verdicts.

The modules `categories`, `matching`, `lexicon`, `policy` and `verdicts` are pure (no Django models, no
I/O), so the emulator and the prompt compiler can import them without pulling in the ORM.
"""
