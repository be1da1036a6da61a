"""Encryption at rest for secrets (certificates, keys, PINs, passwords, technical keys).

Fernet (AES-128-CBC + HMAC-SHA256) with key rotation through MultiFernet: the first key of
FACTURADOR_ENCRYPTION_KEYS encrypts, every key decrypts. Encrypted fields never appear in
repr(), forms or API serializers; values are decrypted only where they are used.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FACTURADOR_ENCRYPTION_KEYS))


def encrypt(data: bytes) -> bytes:
    return fernet().encrypt(data)


def decrypt(token: bytes) -> bytes:
    try:
        return fernet().decrypt(bytes(token))
    except InvalidToken as exc:
        raise RuntimeError("Cannot decrypt a stored secret: FACTURADOR_ENCRYPTION_KEY changed?") from exc


class Secret:
    """A decrypted secret that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value):
        self._value = value

    def reveal(self):
        return self._value

    def __repr__(self):
        return "Secret(****)"

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, Secret) and other._value == self._value

    def __bool__(self):
        return bool(self._value)


class _SecretDescriptor:
    """Wraps whatever is assigned (bytes, str) into a `Secret`, so it never prints."""

    def __init__(self, field):
        self.field = field

    def __get__(self, instance, owner):
        if instance is None:
            return self
        return instance.__dict__.get(self.field.attname)

    def __set__(self, instance, value):
        if value is not None and not isinstance(value, Secret):
            if isinstance(value, memoryview):
                value = bytes(value)
            value = Secret(value)
        instance.__dict__[self.field.attname] = value


class EncryptedField(models.BinaryField):
    """Stores Fernet ciphertext; the Python value is a `Secret` (or None).

    Assign bytes or str (kept as the given type); read `.reveal()` to use it.
    """

    def __init__(self, *args, text=False, **kwargs):
        self.text = text
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.text:
            kwargs["text"] = True
        return name, path, args, kwargs

    def contribute_to_class(self, cls, name, **kwargs):
        super().contribute_to_class(cls, name, **kwargs)
        setattr(cls, self.attname, _SecretDescriptor(self))

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        plain = decrypt(bytes(value))
        return Secret(plain.decode() if self.text else plain)

    def to_python(self, value):
        if value is None or isinstance(value, Secret):
            return value
        return Secret(value)

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, Secret):
            value = value.reveal()
        if isinstance(value, str):
            value = value.encode()
        return super().get_prep_value(encrypt(value))

    def value_to_string(self, obj):
        return "****"
