"""The trainers of rec-trainers."""
