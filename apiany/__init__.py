"""APIAny: one API key for chat, embedding, image, audio and video models."""
