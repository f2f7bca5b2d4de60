"""The admission webhook: Flask app, admission handling and TLS serving."""
