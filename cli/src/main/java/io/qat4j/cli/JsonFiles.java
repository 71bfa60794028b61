package io.qat4j.cli;

import java.io.IOException;
import java.nio.file.Path;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.qat4j.runtime.AtomicFiles;

/** Writes the commands' JSON outputs ({@code summary.json}, {@code sensitivity.json}, {@code run --json}). */
final class JsonFiles {

    private static final ObjectMapper JSON = new ObjectMapper();

    private JsonFiles() {
    }

    /** Writes {@code value} as indented JSON to {@code file}, atomically (a temporary file renamed). */
    static void write(Path file, Object value) throws IOException {
        AtomicFiles.write(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(value));
    }
}
