"""The case library, one module per family. Every module here is imported by ``load_cases``."""
