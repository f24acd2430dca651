"""Restoring photos: task definitions, model selection and the batch runner the commands share."""
