"""A local stand-in for GPT-image-2 on Microsoft Foundry: same HTTP API, real image bytes, real `usage`.

A dev/test tool that says what it is (the `x-emulator` header, a visible mark on every image); it never
pretends to be the model. Build the ASGI app with `generation.emulator.app.create_app(EmulatorConfig(...))`
or run it with `python manage.py foundry_emulator`.
"""
