"""The command line's own machinery, shared by every subcommand (``clapcli.commands``) and the app
(``clapcli.cli``): ``output`` (the one object that writes to the terminal: notes, warnings, progress,
the data stream), ``options`` (option types declared once), ``common`` (model options, inputs, failure
log), ``native_stderr`` (the fold of C libraries' stderr lines) and ``deprecations`` (every old spelling
and the release that removes it). Nothing below the CLI layer imports it."""
