"""The Lambda function: its handler and the zip it is deployed from."""
