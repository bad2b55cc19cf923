from rest_framework import serializers


class TokenLoginInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    otp = serializers.CharField(
        max_length=32, required=False, allow_blank=True, default="",
        help_text="For accounts with two-factor authentication: the current code of the "
                  "authenticator app, or an unused backup code.",
    )
    read_only = serializers.BooleanField(
        required=False, default=False,
        help_text="Issue a token that may only read (GET, HEAD, OPTIONS); other methods get 403.",
    )
    name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="",
        help_text="A label for the token, shown on the tokens page (e.g. the pipeline's name).",
    )


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Shown this once; only its hash is stored.")
    expiry = serializers.DateTimeField()
    read_only = serializers.BooleanField()
    name = serializers.CharField()


class TokenLoginErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
