"""The web dashboard at ``/dashboard``: a page served by the server itself (plain HTML, CSS
and JavaScript in ``static/``, no build step, nothing fetched from elsewhere) over the JSON of
``/dashboard/api/*`` (:mod:`.views`), which follows the API's access rules."""
