"""A property computed on first read and then kept, without a lock.

The typed sections of a hook request are loaded when a handler first reads them. On
Python 3.11, :class:`functools.cached_property` holds one lock per attribute of a class,
shared by every instance: under a threaded server, the calls in flight queue behind one
another on it whenever the thread loading a section loses the interpreter lock. A
request object is read by the thread that serves its call, so the lock guards nothing
here; two threads reading one section at once would each compute the same value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar, overload

T = TypeVar("T")


class lazy_property(Generic[T]):
    """Decorate a method to compute it once per instance, on first read.

    The value is stored in the instance's ``__dict__`` under the method's name, so later
    reads are plain attribute lookups. Example::

        class Call:
            @lazy_property
            def user(self) -> OktaUser | None:
                return load_user(self.data)
    """

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.attrname = func.__name__
        self.__doc__ = func.__doc__
        self.__module__ = func.__module__

    def __set_name__(self, owner: type, name: str) -> None:
        self.attrname = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> T | Self:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.attrname] = value
        return value
