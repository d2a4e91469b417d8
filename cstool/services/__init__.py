"""Services: the operations of the Local backend, one small class per aggregate.

The pattern every service follows
---------------------------------

- **A service is a class constructed with the shared context**
  (:class:`~cstool.services.context.ServiceContext`): the database's units of work
  (``ctx.write()`` / ``ctx.read()``), the clock, the bot, the process's caches
  (``ctx.caches``) and the other services (``ctx.desk``, ``ctx.campaigns``,
  ``ctx.tickets``, ``ctx.knowledge``, ``ctx.metrics`` ...). It keeps no state of its own
  but what it documents (a cache in ``ctx.caches`` says what invalidates it).
- **A public operation opens the one transaction**: ``with self.ctx.write() as uow:``
  (or ``read()``), and does everything of the change inside it, the event included
  (``uow.event(...)``): one transaction per change, with its event.
- **No SQL in a service**: rows are read and written through the repositories of the
  unit of work (``uow.conversations.get(id)``, ``uow.agents.by_handle(h)``, or
  ``uow.repo(SomeRepo)``), which live in :mod:`cstool.storage.repos` (the only SQL).
- **Services call each other explicitly, handing the unit of work down**: the desk asks
  ``ctx.campaigns.command_in(uow, shop_id, text)`` and
  ``ctx.tickets.reopen_on_customer_reply(uow, customer_id, shop_id)``; nothing is
  discovered with ``hasattr`` and no service inherits another's helpers. What one service
  offers the others is a method without a leading underscore taking ``uow`` first; the
  hooks the desk needs of services it does not own are declared as protocols in
  :mod:`cstool.services.context`.
- **Shared building blocks are functions of the unit of work**, not inherited helpers:
  :func:`cstool.services.messages.add_message` (a message, its chat's activity and its
  event) is the one way any service writes into a chat.
- **Results are plain dicts of the public shape**: a key a caller must not see (an
  internal id, a private ``_routed_to``) never leaves the service.

:class:`cstool.backend.local.LocalBackend` is a facade: it opens the database, builds
the context and the services, and delegates each operation of the Backend contract to
its service.
"""
