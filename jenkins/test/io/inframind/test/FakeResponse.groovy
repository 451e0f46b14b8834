package io.inframind.test

/** What the HTTP Request plugin's step returns (ResponseContentSupplier): status and content. */
class FakeResponse {
    int status
    String content
}
