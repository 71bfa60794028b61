package io.qat4j.datasets;

import java.io.IOException;

/** An image folder that cannot be read as a labelled dataset; the message names the folder or file and what to do. */
public final class ImageFolderException extends IOException {

    private static final long serialVersionUID = 1L;

    public ImageFolderException(String message) {
        super(message);
    }

    public ImageFolderException(String message, Throwable cause) {
        super(message, cause);
    }
}
