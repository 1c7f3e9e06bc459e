"""What to ask and where: the settings model, the streams of ``streams.toml``, the project
folder, one validated query, and ISO weeks in a stream's zone. The lowest layer: it imports no
other part of the toolkit but :mod:`engagement_kit.errors`."""
