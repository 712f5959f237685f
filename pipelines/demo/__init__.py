"""Synthetic demo exports, generated in small steps and loaded through the real loader."""
